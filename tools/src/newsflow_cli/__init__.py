"""`newsflow`: the operator's command line over every service. Each command delegates to the
code that owns the work (stack/stack.sh, the chassis' dead-letter and key commands, the
services' own commands); what is new here is reading Kafka offsets (topics, lag) and the
summary of `stats`."""
