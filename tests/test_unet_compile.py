"The conditional UNet under torch.compile (inductor on the CPU) gives the eager answer, forward and backward."
import torch
from artdiff_nb.encoder import EncoderConfig
from artdiff_nb.unet import CaptionDiffusion, UNetConfig

def test_compiled_matches_eager():
    torch.manual_seed(0)
    m = CaptionDiffusion(30, UNetConfig(image_size=16, widths=(16, 32), attn_levels=(1,), cross_attn_levels=(0, 1), head_dim=16),
                         EncoderConfig(embedding_dim=32, num_layers=1, num_heads=2))
    for p in m.unet.parameters(): p.data.normal_(0, 0.05)          # off the zero init, so outputs are not trivially 0
    x, t, ids = torch.randn(4, 3, 16, 16), torch.tensor([1, 200, 600, 999]), torch.randint(3, 30, (4, 8))
    ids[:, 6:] = 0                                                  # padding: the mask path is compiled too
    ref = m(x, t, ids); ref.square().mean().backward()
    g_ref = [p.grad.clone() for p in m.parameters()]
    m.zero_grad()
    cm = torch.compile(m)
    out = cm(x, t, ids); out.square().mean().backward()
    assert torch.allclose(out, ref, atol=1e-4, rtol=1e-4)
    for p, g in zip(m.parameters(), g_ref): assert torch.allclose(p.grad, g, atol=1e-4, rtol=1e-3)
