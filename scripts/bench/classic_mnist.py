"""The classic pipeline, pytorch/examples-style: a torchvision dataset with per-sample
ToTensor/Normalize transforms behind a DataLoader. It is the baseline bench.py
compares this project's trainer with, and reads the same raw IDX files.

    python scripts/bench/classic_mnist.py --data-dir data --epochs 2        # Fashion-MNIST, MLP
    python scripts/bench/classic_mnist.py --optim adam --lr 1e-3 --model cnn --num-workers 2

It imports nothing from this project: it is the plain script a user would write.
"""

from __future__ import annotations

import argparse
import time

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader, Subset
from torchvision import datasets, transforms

# Dataset class and its training-set pixel mean and std.
DATASETS = {
    "fashion_mnist": (datasets.FashionMNIST, 0.2860, 0.3530),
    "mnist": (datasets.MNIST, 0.1307, 0.3081),
}


def make_model(name: str) -> nn.Module:
    """The same layers as the project's `model=linear`, `model=mlp` (784-256-10), `model=cnn`."""
    if name == "linear":
        return nn.Sequential(nn.Flatten(), nn.Linear(784, 10))
    if name == "mlp":
        return nn.Sequential(nn.Flatten(), nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 10))
    return nn.Sequential(
        nn.Conv2d(1, 32, 3), nn.ReLU(), nn.Conv2d(32, 64, 3), nn.ReLU(),
        nn.MaxPool2d(2), nn.Flatten(), nn.Linear(64 * 12 * 12, 128), nn.ReLU(),
        nn.Linear(128, 10),
    )


def make_optimizer(name: str, params, lr: float | None) -> torch.optim.Optimizer:
    """Adadelta(lr=1.0) is pytorch/examples' choice; adam and sgd match the project's presets."""
    if name == "adadelta":
        return torch.optim.Adadelta(params, lr=lr or 1.0)
    if name == "adam":
        return torch.optim.Adam(params, lr=lr or 1e-3)
    return torch.optim.SGD(params, lr=lr or 0.01, momentum=0.9)


def loader(dataset: str, root: str, train: bool, batch_size: int, num_workers: int = 0,
           limit: int | None = None, pin_memory: bool = False) -> DataLoader:
    cls, mean, std = DATASETS[dataset]
    transform = transforms.Compose([transforms.ToTensor(), transforms.Normalize((mean,), (std,))])
    data = cls(root, train=train, download=False, transform=transform)
    if limit:
        data = Subset(data, range(min(limit, len(data))))
    return DataLoader(data, batch_size=batch_size, shuffle=train, num_workers=num_workers,
                      pin_memory=pin_memory)


def train(model: nn.Module, device: torch.device, data: DataLoader,
          optimizer: torch.optim.Optimizer, epoch: int, log_interval: int = 0,
          max_steps: int | None = None) -> int:
    """One epoch; returns the number of samples trained on."""
    model.train()
    seen = 0
    for batch_idx, (x, y) in enumerate(data):
        if max_steps is not None and batch_idx >= max_steps:
            break
        x, y = x.to(device), y.to(device)
        optimizer.zero_grad()
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        optimizer.step()
        seen += len(x)
        if log_interval and batch_idx % log_interval == 0:
            print(f"Train Epoch: {epoch} [{seen}/{len(data.dataset)}]\tLoss: {loss.item():.6f}")
    return seen


def test(model: nn.Module, device: torch.device, data: DataLoader) -> float:
    model.eval()
    correct = 0
    with torch.no_grad():
        for x, y in data:
            x, y = x.to(device), y.to(device)
            correct += (model(x).argmax(dim=1) == y).sum().item()
    accuracy = correct / len(data.dataset)
    print(f"Test set: Accuracy: {correct}/{len(data.dataset)} ({accuracy:.4f})")
    return accuracy


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", default="data", help="torchvision root holding <Dataset>/raw")
    parser.add_argument("--dataset", choices=sorted(DATASETS), default="fashion_mnist")
    parser.add_argument("--model", choices=("linear", "mlp", "cnn"), default="mlp")
    parser.add_argument("--optim", choices=("adadelta", "adam", "sgd"), default="adadelta")
    parser.add_argument("--lr", type=float, default=None)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--test-batch-size", type=int, default=1000)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--steps", type=int, default=None, help="train only this many batches")
    parser.add_argument("--num-workers", type=int, default=0)
    parser.add_argument("--log-interval", type=int, default=10)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()

    torch.manual_seed(args.seed)
    device = torch.device(args.device)
    pin = device.type == "cuda"
    train_data = loader(args.dataset, args.data_dir, True, args.batch_size, args.num_workers,
                        pin_memory=pin)
    test_data = loader(args.dataset, args.data_dir, False, args.test_batch_size,
                       args.num_workers, pin_memory=pin)
    model = make_model(args.model).to(device)
    optimizer = make_optimizer(args.optim, model.parameters(), args.lr)
    for epoch in range(1, args.epochs + 1):
        started = time.perf_counter()
        train(model, device, train_data, optimizer, epoch, args.log_interval, args.steps)
        test(model, device, test_data)
        print(f"epoch {epoch} took {time.perf_counter() - started:.2f}s")


if __name__ == "__main__":
    main()
