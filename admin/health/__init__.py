"""Platform health for operators: counts, queues, failed jobs, the custodian, audit chains; never content."""
