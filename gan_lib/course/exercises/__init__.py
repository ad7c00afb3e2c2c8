"""Self-checks for the notebooks' exercises: a one-line verdict, never an exception, so that "Run all" goes on.
Implement-it checks run the learner's code beside gan_lib's own and name the typical mistake they recognise."""

from .architecture import check_d_loss, check_discriminator_block, check_g_loss, check_generator_block
from .beyond import (
                     check_critic_loss,
                     check_generator_input,
                     check_gradient_penalty,
                     check_hinge_loss,
                     check_one_hot,
                     check_projection,
)
from .results import check_frechet_distance, check_slerp, check_sliced_wasserstein, check_wasserstein_1d
from .style_layers import check_adain, check_truncation
from .style_mixing import check_style_mixing
from .style_networks import check_mapping_network
from .style_noise import check_noise_injection
from .training import check_ema, check_train_step
from .verdicts import check, implementation_verdict, verdict

__all__ = ["check", "check_adain", "check_critic_loss", "check_d_loss", "check_discriminator_block", "check_ema",
           "check_frechet_distance", "check_g_loss", "check_generator_block", "check_generator_input",
           "check_gradient_penalty", "check_hinge_loss", "check_mapping_network", "check_noise_injection",
           "check_one_hot", "check_projection", "check_sliced_wasserstein", "check_slerp", "check_style_mixing",
           "check_train_step", "check_truncation", "check_wasserstein_1d", "implementation_verdict", "verdict"]
