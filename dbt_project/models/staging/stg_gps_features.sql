-- Vehicle-day GPS features of start_date-1..end_date-1: the only GPS days any delivery of the
-- window may see (its vehicle's previous day).
with gps_days as (
    select * from {{ source('features', 'gps') }}
    -- When none of those days exists (the platform's first day) the source has no columns;
    -- these typed empty rows keep the view valid so the joins just find nothing.
    union all by name
    select
        null::varchar as vehicle_id,
        null::date as date,
        null::bigint as ping_count,
        null::double as mean_speed_kph,
        null::double as p95_speed_kph,
        null::double as moving_fraction,
        null::double as idle_fraction,
        null::bigint as stop_count,
        null::double as distance_km,
        null::double as longest_gap_min,
        null::double as active_hours_fraction
    where false
)

select
    cast(vehicle_id as varchar) as vehicle_id,
    cast(date as date) as date,
    cast(ping_count as bigint) as ping_count,
    cast(mean_speed_kph as double) as mean_speed_kph,
    cast(p95_speed_kph as double) as p95_speed_kph,
    cast(moving_fraction as double) as moving_fraction,
    cast(idle_fraction as double) as idle_fraction,
    cast(stop_count as bigint) as stop_count,
    cast(distance_km as double) as distance_km,
    cast(longest_gap_min as double) as longest_gap_min,
    cast(active_hours_fraction as double) as active_hours_fraction
from gps_days
where cast(date as date) between date '{{ var("start_date") }}' - 1 and date '{{ var("end_date") }}' - 1
