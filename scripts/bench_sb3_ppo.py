#!/usr/bin/env python3
"""Stable-Baselines3's default PPO on CartPole-v1, timed with the same stopping rule as
`crocbench ppo-cartpole`: after every rollout of 2048 steps, a 20-episode greedy check; when it
reaches 475, a 100-episode greedy evaluation; stop when that reaches 475. CPU, 2 threads.

    pip install stable-baselines3 gymnasium
    python3 scripts/bench_sb3_ppo.py
"""
import time

import gymnasium as gym
import numpy as np
import torch
from stable_baselines3 import PPO
from stable_baselines3.common.callbacks import BaseCallback

torch.set_num_threads(2)


def evaluate(model, episodes, seed):
    env = gym.make("CartPole-v1")
    total = 0.0
    for e in range(episodes):
        obs, _ = env.reset(seed=seed + e)
        done = False
        while not done:
            action, _ = model.predict(obs, deterministic=True)
            obs, r, term, trunc, _ = env.step(int(action))
            total += r
            done = term or trunc
    return total / episodes


class Stop(BaseCallback):
    def __init__(self):
        super().__init__()
        self.reached = None

    def _on_rollout_end(self):
        quick = evaluate(self.model, 20, 1000)
        print(f"sb3: {self.num_timesteps:7d} steps, greedy eval {quick:6.1f}", flush=True)
        if quick >= 475:
            full = evaluate(self.model, 100, 10000)
            if full >= 475:
                self.reached = (self.num_timesteps, full)

    def _on_step(self):
        return self.reached is None


start = time.perf_counter()
model = PPO("MlpPolicy", "CartPole-v1", seed=0, device="cpu", verbose=0)
cb = Stop()
model.learn(total_timesteps=400_000, callback=cb)
elapsed = time.perf_counter() - start
if cb.reached:
    print(f"sb3 ppo cartpole: average return {cb.reached[1]:.1f} over 100 episodes after {cb.reached[0]} steps, {elapsed:.1f} s wall clock")
else:
    print(f"sb3 ppo cartpole: did not reach 475 within 400,000 steps ({elapsed:.1f} s)")
