with

source as (

    select * from {{ source('erp', 'cost_to_serve') }}

),

renamed as (

    -- ids are text (input contract): a document number is no number
    select
        cast(entry_id as varchar) as entry_id,
        cast(customer_id as varchar) as customer_id,
        entry_date,
        kind as cost_kind,
        amount,
        _loaded_at as loaded_at
    from source

)

select * from renamed
