with

source as (

    select * from {{ source('erp', 'ar_payments') }}

),

renamed as (

    select
        payment_id,
        customer_id,
        invoice_id,
        payment_date,
        amount as payment_amount,
        _loaded_at as loaded_at
    from source

)

select * from renamed
