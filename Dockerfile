# CPU image: `docker build -t extractor .` then
#   docker run --rm -v "$PWD:/data" extractor extract /data/scan.pdf -o /data/scan.json --csv /data/csv
#   docker run --rm -v /srv/archive:/archive:ro -v "$PWD/out:/out" extractor \
#       batch /archive --db /out/archive.sqlite --export parquet /out/parquet     (resumable; see README "Batch")
#   docker run --rm -p 8000:8000 -v "$PWD/out:/out" extractor serve --db /out/archive.sqlite --host 0.0.0.0
# Ray is installed too (`batch --engine ray`; start Ray nodes with `--entrypoint ray … start …`).
FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PIP_NO_CACHE_DIR=1 HF_HUB_OFFLINE=1 EXTRACTOR_MODELS=/app/models
RUN apt-get update && apt-get install -y --no-install-recommends libgl1 libglib2.0-0 \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY pyproject.toml README.md ./
COPY extractor ./extractor
COPY configs ./configs
COPY models ./models
COPY samples ./samples
# torch's CPU wheels (the default PyPI wheel carries CUDA, several GB); [ray]: the batch's Ray engine
RUN pip install --extra-index-url https://download.pytorch.org/whl/cpu ".[ray]"
# `docker stop` sends SIGTERM: a batch finishes the pages in flight and stops (run again to resume)
STOPSIGNAL SIGTERM
EXPOSE 8000
ENTRYPOINT ["extractor"]
CMD ["--help"]
