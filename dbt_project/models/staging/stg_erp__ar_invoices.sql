with

source as (

    select * from {{ source('erp', 'ar_invoices') }}

),

renamed as (

    -- ids are text (input contract): a document number is no number
    select
        {{ cast_id('invoice_id') }} as invoice_id,
        {{ cast_id('customer_id') }} as customer_id,
        invoice_date,
        due_date,
        amount as invoice_amount,
        _loaded_at as loaded_at
    from source

)

select * from renamed
