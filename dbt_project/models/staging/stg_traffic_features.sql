-- Hourly traffic per region on start_date..end_date, keyed by the UTC hour it was observed.
select
    cast(region as varchar) as region,
    cast(date as date) as date,
    {{ as_utc('observed_ts') }} as observed_ts,
    cast(congestion_index as double) as congestion_index,
    cast(incident_count as bigint) as incident_count,
    cast(congestion_prev_1h as double) as congestion_prev_1h,
    cast(incidents_prev_1h as bigint) as incidents_prev_1h
from {{ source('features', 'traffic') }}
where cast(date as date) between date '{{ var("start_date") }}' and date '{{ var("end_date") }}'
