"""The seed's LeNet (section 2.1) as a hand-written script: the baseline for start-up.

The same training as `graphspec run specs/lenet.yaml`: a random 1x1x32x32 input and target,
MSELoss, one SGD step at lr 0.01; the weights saved.
"""

import torch
import torch.nn as nn
import torch.nn.functional as F  # noqa: N812 (the seed's spelling)
import torch.optim as optim


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 6, 5)
        self.conv2 = nn.Conv2d(6, 16, 5)
        self.fc1 = nn.Linear(16 * 5 * 5, 120)
        self.fc2 = nn.Linear(120, 84)
        self.fc3 = nn.Linear(84, 10)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.conv1(x)), (2, 2))
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        x = torch.flatten(x, 1)
        x = F.relu(self.fc1(x))
        x = F.relu(self.fc2(x))
        return self.fc3(x)


torch.manual_seed(0)
input = torch.randn(1, 1, 32, 32)
target = torch.randn(1, 10)
net = Net()
print(net)
criterion = nn.MSELoss()
optimizer = optim.SGD(net.parameters(), lr=0.01)
optimizer.zero_grad()
output = net(input)
loss = criterion(output, target)
loss.backward()
optimizer.step()
print(loss.item())
torch.save(net.state_dict(), "lenet_net.pth")
