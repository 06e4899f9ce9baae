"""The training program as source (what `emit --train` writes) and the static facts about
data it needs. Torch-free."""
