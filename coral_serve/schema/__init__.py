"""The shared vocabulary: wire models, the pipeline spec, states and the source URI grammar.

Every layer speaks these types, so this package imports nothing else of coral_serve (a unit
test and an import contract hold it to that). Import the modules themselves
(`coral_serve.schema.spec`, ...); this package re-exports nothing.
"""
