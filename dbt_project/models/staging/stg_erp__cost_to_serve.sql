with

source as (

    select * from {{ source('erp', 'cost_to_serve') }}

),

renamed as (

    select
        entry_id,
        customer_id,
        entry_date,
        kind as cost_kind,
        amount,
        _loaded_at as loaded_at
    from source

)

select * from renamed
