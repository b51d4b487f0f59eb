"""Questions 1-3 are answered from the model code: change the model, the answers follow."""

from cnnlab.lesson.answers import answer_q1, answer_q2, answer_q3
from cnnlab.models.layers import make_layer, new_spec
from cnnlab.models.presets import PRESETS


def test_the_lesson_numbers():
    q1 = answer_q1()
    assert q1.value == 307_300
    assert "(3072 + 1) * 100 = 307,300" in q1.text
    q2 = answer_q2(q1=q1)
    assert q2.value == 2_700
    assert "about 114 times fewer" in q2.text
    q3 = answer_q3()
    assert (q3.without.total, q3.with_extra.total) == (47_370, 36_138)
    assert q3.answer.text.startswith("Fewer parameters: 36,138 with the extra Conv2D against 47,370")
    assert "6x6 feature maps into 4x4, so Flatten gives 512 instead of 1,152" in q3.answer.text


def test_answers_follow_the_models():
    q1 = answer_q1(new_spec("d", [make_layer("Flatten", {}), make_layer("Dense", {"units": 50})], (32, 32, 3)))
    assert q1.value == (3072 + 1) * 50
    conv = new_spec("c", [make_layer("Conv2D", {"filters": 64, "kernel_size": 3, "use_bias": False})], (32, 32, 3))
    assert answer_q2(conv).value == 3 * 3 * 3 * 64
    # 64 filters in every Conv2D: the answers change with the code, not with a table
    wide = {}
    for name in ("cifar_model_small", "cifar_model"):
        spec = PRESETS[name].spec()
        for layer in spec.layers:
            if layer.kind == "Conv2D":
                layer.args["filters"] = 64
        wide[name] = spec
    q3 = answer_q3(wide["cifar_model_small"], wide["cifar_model"])
    assert q3.without.total == (3 * 3 * 3 + 1) * 64 + (9 * 64 + 1) * 64 + (6 * 6 * 64 + 1) * 32 + 330
    assert q3.with_extra.total == q3.without.total + (9 * 64 + 1) * 64 - (6 * 6 * 64 - 4 * 4 * 64) * 32
    assert f"{q3.with_extra.total:,}" in q3.answer.text


def test_q3_on_mnist_shapes():
    q3 = answer_q3(input_shape=(28, 28, 1))
    assert (q3.without.total, q3.with_extra.total) == (35_530, 28_394)
    assert "5x5 feature maps into 3x3" in q3.answer.text
