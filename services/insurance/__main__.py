from services.insurance.main import main

main()
