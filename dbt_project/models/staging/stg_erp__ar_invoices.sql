with

source as (

    select * from {{ source('erp', 'ar_invoices') }}

),

renamed as (

    -- ids are text (input contract): a document number is no number
    select
        cast(invoice_id as varchar) as invoice_id,
        cast(customer_id as varchar) as customer_id,
        invoice_date,
        due_date,
        amount as invoice_amount,
        _loaded_at as loaded_at
    from source

)

select * from renamed
