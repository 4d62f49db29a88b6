with

source as (

    select * from {{ source('erp', 'customers') }}

),

renamed as (

    -- ids are text (input contract): a document number is no number
    select
        cast(customer_id as varchar) as customer_id,
        name as customer_name,
        region,
        channel,
        created_date,
        credit_limit,
        blocked as is_blocked,
        _business_date as snapshot_date,
        _loaded_at as loaded_at
    from source

)

select * from renamed
