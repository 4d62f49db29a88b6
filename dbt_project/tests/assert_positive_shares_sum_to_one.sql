-- On every as-of date the shares of the contributing customers (positive contribution and
-- a sales line in the window) sum to 1.
select
    as_of_date,
    sum(share) as total_share
from {{ ref('customer_tier_history') }}
where contribution > 0 and line_count > 0
group by as_of_date
having abs(sum(share) - 1) > 1e-9
