"""Attachments (issue 16): files uploaded to tasks, instances and records.

- `models`: the tables (attachment, attachment_link, blob, blob_chunk);
- `store`: the blob store interface and its default, the database (streamed in 1 MiB rows);
- `sniff`: the type of a file from its content, and the file name kept as given (sanitised);
- `service`: upload, who may read an attachment, binding on task completion, the purge of
  unbound uploads.

Kept free of imports here: `engine/models.py` imports `models` while it is being loaded.
"""
