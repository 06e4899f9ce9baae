"""The seed's x^2 regression (section 4) as a hand-written script: the baseline for start-up.

The same training as `graphspec run specs/regression.yaml`: 100 points, a 1-10-1 MLP, SGD lr
0.2, 200 full-batch steps, the final loss printed. No plot (the seed's live plot is a window).
"""

import torch
import torch.nn.functional as F  # noqa: N812 (the seed's spelling)


class Net(torch.nn.Module):
    def __init__(self, n_feature, n_hidden, n_output):
        super().__init__()
        self.hidden = torch.nn.Linear(n_feature, n_hidden)  # hidden layer
        self.predict = torch.nn.Linear(n_hidden, n_output)  # output layer

    def forward(self, x):
        x = F.relu(self.hidden(x))  # activation function for hidden layer
        return self.predict(x)  # linear output


torch.manual_seed(0)
x = torch.unsqueeze(torch.linspace(-1, 1, 100), dim=1)  # x data (tensor), shape=(100, 1)
y = x.pow(2) + 0.2 * torch.rand(x.size())  # noisy y data (tensor), shape=(100, 1)
net = Net(n_feature=1, n_hidden=10, n_output=1)
print(net)
optimizer = torch.optim.SGD(net.parameters(), lr=0.2)
loss_func = torch.nn.MSELoss()
for t in range(200):
    prediction = net(x)
    loss = loss_func(prediction, y)
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    if (t + 1) % 5 == 0:
        print(t + 1, loss.item())
torch.save(net.state_dict(), "regression_net.pth")
