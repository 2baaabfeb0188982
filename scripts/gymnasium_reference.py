#!/usr/bin/env python3
"""Reference CartPole-v1 trajectories from gymnasium for CrocBot's port.

Writes Tests/CrocModelsTests/Fixtures/cartpole.json: for a few start states and action
sequences, gymnasium's state after each step (float64), reward, terminated and truncated.

    pip install gymnasium
    python3 scripts/gymnasium_reference.py
"""
import json
import os

import gymnasium as gym
import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "Tests", "CrocModelsTests", "Fixtures", "cartpole.json")
cases = []
rng = np.random.default_rng(7)
for k in range(4):
    env = gym.make("CartPole-v1")
    env.reset(seed=k)
    start = rng.uniform(-0.05, 0.05, size=4)
    env.unwrapped.state = start.copy()
    actions, states, rewards, terms, truncs = [], [], [], [], []
    policy = ["alternate", "right", "balance", "random"][k]
    for t in range(500):
        s = env.unwrapped.state
        if policy == "alternate":
            a = t % 2
        elif policy == "right":
            a = 1
        elif policy == "balance":
            a = 1 if s[2] + 0.5 * s[3] > 0 else 0  # a simple controller that lasts to the time limit
        else:
            a = int(rng.integers(0, 2))
        _, r, term, trunc, _ = env.step(a)
        actions.append(a)
        states.append([float(v) for v in env.unwrapped.state])
        rewards.append(float(r))
        terms.append(bool(term))
        truncs.append(bool(trunc))
        if term or trunc:
            break
    cases.append({"policy": policy, "start": start.tolist(), "actions": actions, "states": states, "rewards": rewards,
                  "terminated": terms, "truncated": truncs})
    print(policy, "steps", len(actions), "terminated", terms[-1], "truncated", truncs[-1])
json.dump({"gymnasium": gym.__version__, "cases": cases}, open(OUT, "w"))
