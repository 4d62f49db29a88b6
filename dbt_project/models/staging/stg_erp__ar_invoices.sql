with

source as (

    select * from {{ source('erp', 'ar_invoices') }}

),

renamed as (

    select
        invoice_id,
        customer_id,
        invoice_date,
        due_date,
        amount as invoice_amount,
        _loaded_at as loaded_at
    from source

)

select * from renamed
