#!/usr/bin/env python3
"""Stable-Baselines3 PPO's learning throughput on a Gymnasium environment of the portfolio
environment's sizes in `crocbench cross-section`: observations of 20 assets x window 32 x 4
features + 21 weights (2,581 values), actions of 21 values (softmax weights, cash last). The
environment itself is nearly free (observations drawn from a precomputed table, the reward a dot
product), so the figure is PPO's own cost. SB3's defaults, as CrocBot's PPO: 2,048-step rollouts,
10 epochs, minibatches of 64, [64, 64] tanh networks; 4,096 steps; torch on the CPU, 2 threads.

    pip install stable-baselines3 gymnasium torch
    python3 scripts/bench_sb3_ppo_portfolio.py
"""
import time

import gymnasium as gym
import numpy as np
import torch
from stable_baselines3 import PPO

torch.set_num_threads(2)
ASSETS, WINDOW, FEATURES = 20, 32, 4
OBS = ASSETS * WINDOW * FEATURES + ASSETS + 1


class PortfolioLike(gym.Env):
    def __init__(self):
        rng = np.random.default_rng(0)
        self.table = rng.normal(size=(512, OBS)).astype(np.float32)
        self.returns = rng.normal(0, 0.01, size=(512, ASSETS + 1))
        self.observation_space = gym.spaces.Box(-np.inf, np.inf, shape=(OBS,), dtype=np.float32)
        self.action_space = gym.spaces.Box(-3, 3, shape=(ASSETS + 1,), dtype=np.float32)
        self.t = 0

    def reset(self, seed=None, options=None):
        super().reset(seed=seed)
        self.t = 0
        return self.table[0], {}

    def step(self, action):
        w = np.exp(action - action.max())
        w /= w.sum()
        reward = float(np.log1p(w @ self.returns[self.t % 512]))
        self.t += 1
        return self.table[self.t % 512], reward, False, self.t >= 256, {}


model = PPO("MlpPolicy", PortfolioLike(), n_steps=2048, batch_size=64, n_epochs=10, device="cpu", seed=1, verbose=0)
steps = 4096
start = time.perf_counter()
model.learn(total_timesteps=steps)
took = time.perf_counter() - start
print(f"sb3 ppo on a portfolio-sized environment (observation {OBS}, action {ASSETS + 1}): {steps} steps in {took:.2f} s: {steps / took:.0f} steps/s, learning included (torch {torch.__version__}, 2 threads)")
