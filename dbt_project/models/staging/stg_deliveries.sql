-- Deliveries dispatched on start_date..end_date, typed, with UTC instants.
-- Not deduplicated: raw ingestion already did, so a duplicate here must fail the tests.
select
    cast(delivery_id as varchar) as delivery_id,
    cast(date as date) as date,
    cast(vehicle_id as varchar) as vehicle_id,
    cast(route_id as varchar) as route_id,
    cast(customer_id as varchar) as customer_id,
    cast(region as varchar) as region,
    cast(stop_sequence as bigint) as stop_sequence,
    cast(planned_distance_km as double) as planned_distance_km,
    {{ as_utc('scheduled_departure_ts') }} as scheduled_departure_ts,
    {{ as_utc('scheduled_arrival_ts') }} as scheduled_arrival_ts,
    {{ as_utc('actual_departure_ts') }} as actual_departure_ts,
    {{ as_utc('actual_arrival_ts') }} as actual_arrival_ts,
    cast(status as varchar) as status
from {{ source('raw', 'deliveries') }}
where cast(date as date) between date '{{ var("start_date") }}' and date '{{ var("end_date") }}'
