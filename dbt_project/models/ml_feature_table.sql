{# The config is read at parse time: env_var itself, so that partial parsing sees it (run_var.sql). #}
{{ config(
    materialized='external',
    format='parquet',
    location=env_var('MERIDIAN_DBT_OUTPUT', var('output')),
    tags=['ml_features'],
) }}

-- One row per delivery of start_date..end_date, every feature as known at its dispatch.
-- Left joins only: a delivery without some feature keeps its row with nulls there.

with deliveries as (
    {{ stg_deliveries() }}
),

route as (
    {{ stg_route_features() }}
),

gps as (
    {{ stg_gps_features() }}
),

weather as (
    {{ stg_weather_features() }}
),

traffic as (
    {{ stg_traffic_features() }}
),

customers as (
    {{ stg_customer_features() }}
)

select
    d.delivery_id,
    d.date,
    d.vehicle_id,
    d.route_id,
    d.customer_id,
    d.region,
    d.status,
    d.scheduled_departure_ts,
    -- the dispatcher's estimate: the baseline every model must beat
    (epoch(d.scheduled_arrival_ts) - epoch(d.scheduled_departure_ts)) / 60.0 as scheduled_minutes,
    -- the label: only a delivered stop has a real arrival
    case
        when d.status = 'delivered'
            then (epoch(d.actual_arrival_ts) - epoch(d.actual_departure_ts)) / 60.0
    end as delivery_minutes,
    d.planned_distance_km,
    d.stop_sequence,

    r.route_stops,
    r.departure_hour,
    r.weekday,
    r.route_mean_delay_7d,
    r.route_deliveries_7d,
    r.veh_pace_28d,
    r.veh_deliveries_28d,
    r.region_hour_mean_delay_28d,

    g.ping_count as veh_prev_ping_count,
    g.mean_speed_kph as veh_prev_mean_speed_kph,
    g.p95_speed_kph as veh_prev_p95_speed_kph,
    g.moving_fraction as veh_prev_moving_fraction,
    g.idle_fraction as veh_prev_idle_fraction,
    g.stop_count as veh_prev_stop_count,
    g.distance_km as veh_prev_distance_km,
    g.longest_gap_min as veh_prev_longest_gap_min,
    g.active_hours_fraction as veh_prev_active_hours_fraction,

    w.temp_c,
    w.precip_mm,
    w.wind_kph,
    w.visibility_km,
    w.condition as weather_condition,
    w.precip_prev_3h_mm,

    t.congestion_index,
    t.incident_count,
    t.congestion_prev_1h,

    c.dock_type,
    c.requires_appointment,
    c.avg_unload_min,
    c.on_time_rate_28d as cust_on_time_rate_28d,
    c.deliveries_28d as cust_deliveries_28d,
    c.mean_delay_28d as cust_mean_delay_28d

from deliveries as d
left join route as r
    on r.delivery_id = d.delivery_id
    and r.date = d.date
-- the vehicle's previous day, never the delivery's own day (its pings are after dispatch)
left join gps as g
    on g.vehicle_id = d.vehicle_id
    and g.date = d.date + ({{ run_var("gps_day_offset") }})
-- the observation of the departure hour; later hours are in the future at dispatch
left join weather as w
    on w.region = d.region
    and w.observed_ts = date_trunc('hour', d.scheduled_departure_ts)
left join traffic as t
    on t.region = d.region
    and t.observed_ts = date_trunc('hour', d.scheduled_departure_ts)
left join customers as c
    on c.customer_id = d.customer_id
    and c.date = d.date
order by d.date, d.delivery_id
