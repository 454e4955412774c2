"""Thin shells that plug the env's parser and scorer into other stacks' reward / metric hooks.

One module per framework (verl, OpenRLHF, lm-evaluation-harness, OpenEnv, verifiers, reasoning-gym,
SkyRL). Each only converts that framework's call signature and data into `envs.scoring` calls, so
every stack scores a completion exactly as `cfcode eval` does. Nothing here imports a framework at
module level: the adapters load in the main environment, and the framework's own venv (see
noxfile.py) tests them against the real library.
"""
