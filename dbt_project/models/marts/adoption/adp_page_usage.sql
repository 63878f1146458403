with

usage as (

    select * from {{ ref('fct_dashboard_usage') }}

),

final as (

    select
        page,
        week_start,
        count(*) filter (where usage_kind = 'view') as views,
        count(distinct account_id) filter (where usage_kind = 'view') as users,
        count(*) filter (where usage_kind = 'filter_change') as filter_changes,
        count(*) filter (where usage_kind = 'export') as exports
    from usage
    where page is not null
    group by page, week_start

)

select * from final
