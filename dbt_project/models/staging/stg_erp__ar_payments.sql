with

source as (

    select * from {{ source('erp', 'ar_payments') }}

),

renamed as (

    -- ids are text (input contract): a document number is no number
    select
        {{ cast_id('payment_id') }} as payment_id,
        {{ cast_id('customer_id') }} as customer_id,
        {{ cast_id('invoice_id') }} as invoice_id,
        payment_date,
        amount as payment_amount,
        _loaded_at as loaded_at
    from source

)

select * from renamed
