-- Revenue KPIs add up: gross = subscription + program, net = gross - refunds; amounts are >= 0.
select *
from {{ ref('exec_daily_kpis') }}
where abs(gross_revenue - (subscription_revenue + program_revenue)) > 0.005
    or abs(revenue - (gross_revenue - refunds)) > 0.005
    or least(gross_revenue, refunds, subscription_revenue, program_revenue) < 0
