{# Typed, windowed reads of each source, inlined as CTEs of ml_feature_table.
   Macros, not staging models: the DuckDB database lives in memory for one build, so
   ml_feature_table must be buildable on its own selection. #}

{% macro stg_customer_features() %}
-- Customer snapshot of each day of start_date..end_date (28-day history ends the day before).
select
    cast(customer_id as varchar) as customer_id,
    cast(date as date) as date,
    cast(dock_type as varchar) as dock_type,
    cast(requires_appointment as boolean) as requires_appointment,
    cast(avg_unload_min as double) as avg_unload_min,
    cast(on_time_rate_28d as double) as on_time_rate_28d,
    cast(deliveries_28d as bigint) as deliveries_28d,
    cast(mean_delay_28d as double) as mean_delay_28d
from {{ source('features', 'customer') }}
where cast(date as date) between date '{{ run_var("start_date") }}' and date '{{ run_var("end_date") }}'
{% endmacro %}

{% macro stg_deliveries() %}
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
where cast(date as date) between date '{{ run_var("start_date") }}' and date '{{ run_var("end_date") }}'
{% endmacro %}

{% macro stg_gps_features() %}
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
where cast(date as date) between date '{{ run_var("start_date") }}' + ({{ run_var("gps_day_offset") }})
    and date '{{ run_var("end_date") }}' + ({{ run_var("gps_day_offset") }})
{% endmacro %}

{% macro stg_route_features() %}
-- Route features of each delivery of start_date..end_date (their histories end the day before).
select
    cast(delivery_id as varchar) as delivery_id,
    cast(date as date) as date,
    cast(route_stops as bigint) as route_stops,
    cast(departure_hour as integer) as departure_hour,
    cast(weekday as integer) as weekday,
    cast(route_mean_delay_7d as double) as route_mean_delay_7d,
    cast(route_deliveries_7d as bigint) as route_deliveries_7d,
    cast(veh_pace_28d as double) as veh_pace_28d,
    cast(veh_deliveries_28d as bigint) as veh_deliveries_28d,
    cast(region_hour_mean_delay_28d as double) as region_hour_mean_delay_28d
from {{ source('features', 'route') }}
where cast(date as date) between date '{{ run_var("start_date") }}' and date '{{ run_var("end_date") }}'
{% endmacro %}

{% macro stg_traffic_features() %}
-- Hourly traffic per region on start_date..end_date, keyed by the UTC hour it was observed.
select
    cast(region as varchar) as region,
    cast(date as date) as date,
    {{ as_utc('observed_ts') }} as observed_ts,
    cast(congestion_index as double) as congestion_index,
    cast(incident_count as bigint) as incident_count,
    cast(congestion_prev_1h as double) as congestion_prev_1h
from {{ source('features', 'traffic') }}
where cast(date as date) between date '{{ run_var("start_date") }}' and date '{{ run_var("end_date") }}'
{% endmacro %}

{% macro stg_weather_features() %}
-- Hourly weather per region on start_date..end_date, keyed by the UTC hour it was observed.
select
    cast(region as varchar) as region,
    cast(date as date) as date,
    {{ as_utc('observed_ts') }} as observed_ts,
    cast(temp_c as double) as temp_c,
    cast(precip_mm as double) as precip_mm,
    cast(wind_kph as double) as wind_kph,
    cast(visibility_km as double) as visibility_km,
    cast(condition as varchar) as condition,
    cast(precip_prev_3h_mm as double) as precip_prev_3h_mm
from {{ source('features', 'weather') }}
where cast(date as date) between date '{{ run_var("start_date") }}' and date '{{ run_var("end_date") }}'
{% endmacro %}
