{#- Whether a user had consent in a category at a time: the interval of int_consent_periods
    that covers the time decides; outside every interval, var('consent_default') does
    ("granted" or "denied", as PULSE_CONSENT_DEFAULT at the collector). Pass qualified column
    names (the subquery has a user_id of its own). -#}
{% macro had_consent(user_id, at, category) -%}
coalesce(
    (
        select arg_max(consent_periods.is_granted, consent_periods.valid_from)
        from {{ ref('int_consent_periods') }} as consent_periods
        where consent_periods.user_id = {{ user_id }}
            and consent_periods.category = '{{ category }}'
            and {{ at }} >= consent_periods.valid_from
            and ({{ at }} < consent_periods.valid_to or consent_periods.valid_to is null)
    ),
    {{ 'true' if var('consent_default', 'granted') == 'granted' else 'false' }}
)
{%- endmacro %}
