-- Customer snapshot of each day of start_date..end_date (28-day history ends the day before).
select
    cast(customer_id as varchar) as customer_id,
    cast(date as date) as date,
    cast(dock_type as varchar) as dock_type,
    cast(requires_appointment as boolean) as requires_appointment,
    cast(avg_unload_min as double) as avg_unload_min,
    cast(on_time_rate_28d as double) as on_time_rate_28d,
    cast(deliveries_28d as bigint) as deliveries_28d
from {{ source('features', 'customer') }}
where cast(date as date) between date '{{ var("start_date") }}' and date '{{ var("end_date") }}'
