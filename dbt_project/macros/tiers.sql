{#- Tiers as ranks, so "at most B" and "the best of the last N evaluations" are min/max:
    A = 1 (best) .. D = 4 (worst). -#}
{% macro tier_letters() -%}
    {{ return(["A", "B", "C", "D"]) }}
{%- endmacro %}

{% macro tier_rank(tier) -%}
    case {{ tier }}
        {%- for letter in tier_letters() %} when '{{ letter }}' then {{ loop.index }}{% endfor %}
    end
{%- endmacro %}

{% macro tier_from_rank(rank) -%}
    case {{ rank }}
        {%- for letter in tier_letters() %} when {{ loop.index }} then '{{ letter }}'{% endfor %}
    end
{%- endmacro %}

{#- The rank of a tier var (a cap such as one_off_max_tier), checked at compile time. -#}
{% macro tier_var_rank(name) -%}
    {%- set value = var(name) -%}
    {%- if value not in tier_letters() -%}
        {{ exceptions.raise_compiler_error("var " ~ name ~ " must be one of A, B, C, D, not " ~ value) }}
    {%- endif -%}
    {{ tier_letters().index(value) + 1 }}
{%- endmacro %}
