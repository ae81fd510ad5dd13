-- The label exists exactly for delivered rows, and a delivery takes time: a null label on a
-- delivered row, or a label on a cancelled/failed one, would train the model on nonsense.
select delivery_id, status, delivery_minutes
from {{ ref('ml_feature_table') }}
where (status = 'delivered' and (delivery_minutes is null or delivery_minutes <= 0))
    or (status <> 'delivered' and delivery_minutes is not null)
