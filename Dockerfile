# The code location's image: the user deployment of deploy/k8s/values.yaml, whose pods also run
# its runs and steps. NOT BUILT HERE: these machines have no Docker engine. What is checked
# without one (meridian_assets_tests/deploy/test_kubernetes.py): the command below is the one the
# chart starts for the values' module and port.
#
#   docker build -t meridian-assets:0.1.0 .
#
# bookworm rather than the default slim tag: Debian 13 (trixie) has no Java 17, the Java the
# project's Spark is tested with (scripts/bootstrap.sh installs the same package).
FROM python:3.11-slim-bookworm

# Slim images leave out man pages, and the JRE's post-install links its own into man1.
RUN mkdir -p /usr/share/man/man1 \
 && apt-get update \
 && apt-get install -y --no-install-recommends openjdk-17-jre-headless \
 && rm -rf /var/lib/apt/lists/*

WORKDIR /opt/meridian
COPY pyproject.toml ./
COPY meridian_assets ./meridian_assets
COPY spark_jobs ./spark_jobs
COPY dbt_project ./dbt_project

# The dependencies as pyproject.toml pins them, in a venv of their own. Editable, because
# meridian_assets/dbt_project.py finds dbt_project/ beside the package, as in a checkout.
RUN python -m venv /opt/venv \
 && /opt/venv/bin/pip install --no-cache-dir -e .
ENV PATH=/opt/venv/bin:$PATH

# The dbt manifest, built once here as `make manifest` builds it: the @dbt_assets read it when
# the code location loads.
RUN dagster-dbt project prepare-and-package --file meridian_assets/dbt_project.py

# Not root. It writes dbt's target folder, and DAGSTER_HOME (the chart's path), where local
# compute logs go; the lake volume must be writable by this uid.
RUN useradd --uid 10001 --create-home meridian \
 && mkdir -p /opt/dagster/dagster_home \
 && chown -R meridian /opt/dagster/dagster_home /opt/meridian/dbt_project
USER 10001

EXPOSE 3030
# No ENTRYPOINT: the chart passes this same command as the container's args, replacing CMD.
CMD ["dagster", "code-server", "start", "-h", "0.0.0.0", "-p", "3030", "-m", "meridian_assets.definitions"]
