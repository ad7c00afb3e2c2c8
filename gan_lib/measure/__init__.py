"""The measuring wing: distances between sets of images (SWD, FID, KID, mode coverage), the feature networks they
use, latent directions and how disentangled a latent space is, equal-time races between recipes, and the figures
that show it all."""
