"""S3 batch ingestion: uploaded files of records become jobs, reports and results."""
