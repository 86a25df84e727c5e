"""Studies built on the core: each answers one question of the lab with the core's loop and ledger.

compare       every method from one start on one FLOP budget, over seeds (notebooks 00, 05)
costs         what one method costs against another, under each accounting (notebook 08)
drift         how far a student's own prefixes drift, and how errors compound after a first mistake
forgetting    losing a skill while learning facts, and recovering it by distillation (notebook 06)
wordproblems  a word-problem task for real hub models (notebook 07)
"""
