# CPU image: `docker build -t extractor .` then
#   docker run --rm -v "$PWD:/data" extractor extract /data/scan.pdf -o /data/scan.json --csv /data/csv
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
# torch's CPU wheels (the default PyPI wheel carries CUDA, several GB)
RUN pip install --extra-index-url https://download.pytorch.org/whl/cpu .
ENTRYPOINT ["extractor"]
CMD ["--help"]
