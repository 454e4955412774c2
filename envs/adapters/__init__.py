"""Thin shells that plug the env's parser and scorer into other stacks' reward / metric hooks.

One module per framework (verl, OpenRLHF, lm-evaluation-harness, OpenEnv, verifiers, reasoning-gym,
SkyRL). Each only converts that framework's call signature and data into `envs.scoring` calls, so
every stack scores a completion exactly as `cfcode eval` does. The verl, OpenRLHF and lm-eval shells
import no framework (they load in the main environment); the OpenEnv, verifiers, SkyRL and reasoning-gym ones
subclass their framework's classes and import only where it is installed. Each framework's own venv
(noxfile.py) tests its adapter against the real library.
"""
