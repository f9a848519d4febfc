"""The three roles (user simulator, task agent, critic) and the model providers behind them."""
