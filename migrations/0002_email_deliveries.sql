-- Emails already handed to the SMTP server, by the id of their job. The
-- worker records the delivery in the same transaction as the send, so a job
-- that runs twice (a rescued stuck job, a lost acknowledgement) sends once.
CREATE TABLE email_deliveries (
    job_id  bigint PRIMARY KEY,
    sent_at timestamptz NOT NULL DEFAULT now()
);
