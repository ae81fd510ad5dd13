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
where cast(date as date) between date '{{ var("start_date") }}' and date '{{ var("end_date") }}'
