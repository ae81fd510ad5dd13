-- Route features of each delivery of start_date..end_date (7-day history ends the day before).
select
    cast(delivery_id as varchar) as delivery_id,
    cast(date as date) as date,
    cast(route_stops as bigint) as route_stops,
    cast(departure_hour as integer) as departure_hour,
    cast(weekday as integer) as weekday,
    cast(route_mean_delay_7d as double) as route_mean_delay_7d,
    cast(route_deliveries_7d as bigint) as route_deliveries_7d
from {{ source('features', 'route') }}
where cast(date as date) between date '{{ var("start_date") }}' and date '{{ var("end_date") }}'
