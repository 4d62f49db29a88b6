with

source as (

    select * from {{ source('erp', 'cost_to_serve') }}

),

renamed as (

    -- ids are text (input contract): a document number is no number;
    -- names typed here, so the marts' text columns have one type on every adapter
    select
        {{ cast_id('entry_id') }} as entry_id,
        {{ cast_id('customer_id') }} as customer_id,
        entry_date,
        cast(kind as {{ dbt.type_string() }}) as cost_kind,
        amount,
        _loaded_at as loaded_at
    from source

)

select * from renamed
