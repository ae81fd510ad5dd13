-- Left joins must neither drop nor duplicate deliveries: as many rows as deliveries in the window.
{{ config(meta={'dagster': {'ref': {'name': 'ml_feature_table'}}}) }}

select table_rows, delivery_rows
from (select count(*) as table_rows from {{ ref('ml_feature_table') }})
cross join (select count(*) as delivery_rows from {{ source('raw', 'deliveries') }})
where table_rows <> delivery_rows
