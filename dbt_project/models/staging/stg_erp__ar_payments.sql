with

source as (

    select * from {{ source('erp', 'ar_payments') }}

),

renamed as (

    -- ids are text (input contract): a document number is no number
    select
        cast(payment_id as varchar) as payment_id,
        cast(customer_id as varchar) as customer_id,
        cast(invoice_id as varchar) as invoice_id,
        payment_date,
        amount as payment_amount,
        _loaded_at as loaded_at
    from source

)

select * from renamed
