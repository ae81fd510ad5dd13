{# A value of the run's window: Dagster passes it in the environment (MERIDIAN_DBT_START_DATE,
   ...), not as --vars, which would force a full re-parse on every run: a changed environment
   variable re-parses only the files that read it. The vars in dbt_project.yml are the defaults
   that let `dbt parse` run alone. What is read at parse time (sources.yml, the model's config) calls env_var itself, so that
   partial parsing sees the variable. #}
{% macro run_var(name) %}
    {{ return(env_var('MERIDIAN_DBT_' ~ name | upper, var(name))) }}
{% endmacro %}
