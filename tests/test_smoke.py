from app.models import Role


def test_supervisor_sees_registry(client, login_as, make_customer):
    login_as(Role.SUPERVISOR)
    make_customer(name="张三丰")
    response = client.get("/customers/?q=张三")
    assert response.status_code == 200
    assert "张三丰" in response.get_data(as_text=True)
