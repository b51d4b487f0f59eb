# The weather prediction network of the lesson's episode 3, built by a function with arguments.
def create_nn(nodes1=100, nodes2=50):
    inputs = keras.Input(shape=(X_data.shape[1],), name='input')
    layers_dense = keras.layers.Dense(nodes1, 'relu')(inputs)
    layers_dense = keras.layers.Dense(nodes2, 'relu')(layers_dense)
    outputs = keras.layers.Dense(1)(layers_dense)
    return keras.Model(inputs=inputs, outputs=outputs, name="model_small")

model = create_nn(10, 5)
