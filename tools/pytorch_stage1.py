"""The stage-1 network and step that `vae-gpu bench train` times, written in PyTorch from
../shared/reference-notes.md (not from vae-gpu's code): the InfoGAN-style VAE on 28x28x1,
kappa = 64, the Gaussian likelihood with a learned gamma plus the KL, Adam, batch 64 of
uniform [0, 1) inputs. Prints one JSON object: images/s, ms/step, peak memory.

Usage: python3 tools/pytorch_stage1.py [--device cpu|cuda] [--batch 64] [--steps 20]
                                       [--mode eager|graphs|compile] [--threads N]
"""
import argparse
import json
import math
import os
import resource
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


class Stage1(nn.Module):
    def __init__(self, side=28, latent=64):
        super().__init__()
        s4 = side // 4
        self.s4 = s4
        self.e1 = nn.Conv2d(1, 64, 4, 2, 1)
        self.e2 = nn.Conv2d(64, 128, 4, 2, 1)
        self.bn2 = nn.BatchNorm2d(128, eps=1e-5, momentum=0.001)
        self.e3 = nn.Linear(128 * s4 * s4, 1024)
        self.bn3 = nn.BatchNorm1d(1024, eps=1e-5, momentum=0.001)
        self.e4 = nn.Linear(1024, 2 * latent)
        self.d1 = nn.Linear(latent, 1024)
        self.bd1 = nn.BatchNorm1d(1024, eps=1e-5, momentum=0.001)
        self.d2 = nn.Linear(1024, 128 * s4 * s4)
        self.bd2 = nn.BatchNorm1d(128 * s4 * s4, eps=1e-5, momentum=0.001)
        self.d3 = nn.ConvTranspose2d(128, 64, 4, 2, 1)
        self.bd3 = nn.BatchNorm2d(64, eps=1e-5, momentum=0.001)
        self.d4 = nn.ConvTranspose2d(64, 1, 4, 2, 1)
        self.loggamma = nn.Parameter(torch.zeros(()))
        for m in self.modules():
            if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
                nn.init.normal_(m.weight, 0.0, 0.02)
                nn.init.zeros_(m.bias)

    def loss(self, x):
        b = x.shape[0]
        h = F.leaky_relu(self.e1(x), 0.2)
        h = F.leaky_relu(self.bn2(self.e2(h)), 0.2)
        h = F.leaky_relu(self.bn3(self.e3(h.flatten(1))), 0.2)
        mu, s = self.e4(h).chunk(2, dim=1)
        sigma = 1e-6 + F.softplus(s)
        z = mu + sigma * torch.randn_like(mu)
        h = F.relu(self.bd1(self.d1(z)))
        h = F.relu(self.bd2(self.d2(h))).view(b, 128, self.s4, self.s4)
        h = F.relu(self.bd3(self.d3(h)))
        mu_x = torch.sigmoid(self.d4(h))
        gamma = self.loggamma.exp()
        rec = (((x - mu_x) / gamma) ** 2 / 2 + self.loggamma + 0.5 * math.log(2 * math.pi)).sum() / b
        kl = (mu**2 + sigma**2 - 2 * torch.log(sigma) - 1).sum() / 2 / b
        return rec + kl


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--device", default="cpu")
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--steps", type=int, default=20)
    p.add_argument("--mode", default="eager", choices=["eager", "graphs", "compile"])
    p.add_argument("--threads", type=int, default=os.cpu_count(), help="CPU threads (all cores)")
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    dev = torch.device(a.device)
    torch.manual_seed(0)
    model = Stage1().to(dev)
    opt = torch.optim.Adam(model.parameters(), lr=1e-4, betas=(0.9, 0.999), eps=1e-8)
    x = torch.rand(a.batch, 1, 28, 28, device=dev)

    def step():
        opt.zero_grad(set_to_none=False)
        loss = model.loss(x)
        loss.backward()
        opt.step()
        return loss

    run = step
    if a.mode == "compile":
        run = torch.compile(step)
    sync = torch.cuda.synchronize if dev.type == "cuda" else (lambda: None)
    if a.mode == "graphs":
        assert dev.type == "cuda", "CUDA graphs need --device cuda"
        s = torch.cuda.Stream()
        s.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(s):
            for _ in range(3):
                step()
        torch.cuda.current_stream().wait_stream(s)
        g = torch.cuda.CUDAGraph()
        with torch.cuda.graph(g):
            step()
        run = g.replay
    for _ in range(3):  # warm-up
        run()
    sync()
    if dev.type == "cuda":
        torch.cuda.reset_peak_memory_stats()
    rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    t = time.perf_counter()
    for _ in range(a.steps):
        run()
    sync()
    dt = (time.perf_counter() - t) / a.steps
    if dev.type == "cuda":
        peak, peak_is = torch.cuda.max_memory_allocated(), "torch.cuda.max_memory_allocated"
    else:
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
        peak_is = "process peak RSS (ru_maxrss), everything PyTorch holds on the host"
    print(json.dumps({
        "framework": f"PyTorch {torch.__version__}",
        "device": torch.cuda.get_device_name(dev) if dev.type == "cuda" else f"cpu, {torch.get_num_threads()} threads",
        "mode": a.mode,
        "batch": a.batch,
        "steps": a.steps,
        "parameters": sum(q.numel() for q in model.parameters()),
        "ms_per_step": dt * 1e3,
        "images_per_second": a.batch / dt,
        "peak_bytes": peak,
        "peak_is": peak_is,
        "rss_before_timing_bytes": rss0 * 1024,
    }))


if __name__ == "__main__":
    main()
