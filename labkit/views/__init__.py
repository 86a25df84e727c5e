"""Views: figures, tables, widgets and notebook helpers, drawn from what the studies return.

plots     the figures the notebooks share, one colour per method
tokens    a student sample's tokens coloured by how the teacher grades each (HTML and static)
widgets   the token explorer: scroll a run's snapshots token by token
race      the race's curves, the post's compute table, ratio tables; the race written to disk
mapview   the map read across regimes: every ratio with its interval, verdicts, the break-even
why       the premises one figure each (notebook 09)
tables    the Markdown tables the benchmarks write beside their JSON (the map, recovery, memory)
notebook  what every notebook shares: data_dir, load_lab, record (results the tests read back), show_source
"""
